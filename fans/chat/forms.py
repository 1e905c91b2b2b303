"""Forms of the fan-facing pages."""

from django import forms
from django.utils.translation import gettext_lazy as _

from shops.forms import NamedSignupForm


class JoinForm(NamedSignupForm):
    """Sign-up through a shop's invite link: a new account that follows the shop at once."""

    display_name = forms.CharField(
        label=_("Display name"),
        max_length=100,
        help_text=_("How the shop will see you, e.g. your nickname."),
        widget=forms.TextInput(attrs={"autocomplete": "nickname"}),
    )
