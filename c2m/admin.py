"""The c2m admin lives in its parts; Django discovers it from here."""

from c2m.design import admin as design_admin  # noqa: F401 - registers the design-round admin
