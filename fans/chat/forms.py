"""Forms of the fan-facing pages."""

from typing import Any

from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _


class JoinForm(UserCreationForm):
    """Sign-up through a shop's invite link: a new account that follows the shop at once."""

    display_name = forms.CharField(
        label=_("Display name"),
        max_length=100,
        help_text=_("How the shop will see you, e.g. your nickname."),
        widget=forms.TextInput(attrs={"autocomplete": "nickname"}),
    )

    class Meta(UserCreationForm.Meta):
        fields = ("username",)

    field_order = ["username", "display_name", "password1", "password2"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "autocapitalize": "none"})
        # The user's full name feeds the password-similarity check and the shop's default name for them.
        self.fields["display_name"].widget.attrs.update({"maxlength": "100"})

    def clean_display_name(self) -> str:
        name = self.cleaned_data["display_name"].strip()
        if not name:
            raise forms.ValidationError(_("Please enter a display name."))
        return name

    def _post_clean(self) -> None:
        # Let the password validators compare the password with the display name too.
        if self.cleaned_data.get("display_name"):
            self.instance.first_name = self.cleaned_data["display_name"][:150]
        super()._post_clean()
