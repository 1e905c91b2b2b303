"""Forms of the owner self-service pages: sign-up, a new shop, a product. Services hold the rules; these
check shape so every error shows at once, next to its field."""

import zoneinfo
from functools import cache
from typing import Any

from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from shops.models import Category
from shops.services import shop_slug_check

# Listed first in the time zone select: where Fansi's shops mostly are.
COMMON_ZONES = (
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Europe/London",
)


@cache
def timezone_choices() -> list[tuple[str, str]]:
    rest = sorted(z for z in zoneinfo.available_timezones() if "/" in z and z not in COMMON_ZONES)
    return [(z, z) for z in COMMON_ZONES] + [(z, z) for z in rest]


class NamedSignupForm(UserCreationForm):
    """A new account with a username, a display name and a password: the owner's sign-up, and a fan's
    through a shop's invite link (fans.chat.forms.JoinForm). The display name is the user's first name, so
    the password validators compare the password with it too."""

    display_name = forms.CharField(
        label=_("Your name"),
        max_length=100,
        help_text=_("How your fans and team will see you."),
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )

    class Meta(UserCreationForm.Meta):
        fields = ("username",)

    field_order = ["username", "display_name", "password1", "password2"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "autocapitalize": "none"})

    def _post_clean(self) -> None:
        if self.cleaned_data.get("display_name"):
            self.instance.first_name = self.cleaned_data["display_name"][:150]
        super()._post_clean()


class OwnerSignupForm(NamedSignupForm):
    """A new account for someone who will open a shop (the shop itself comes on the next page)."""


class ShopForm(forms.Form):
    name = forms.CharField(
        label=_("Shop name"), max_length=100, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    slug = forms.CharField(
        label=_("Shop address"),
        max_length=60,
        help_text=_("Lowercase letters, digits and hyphens, e.g. xiaohong-beauty."),
        widget=forms.TextInput(
            attrs={"autocapitalize": "none", "spellcheck": "false", "pattern": "[a-z0-9-]{3,60}"}
        ),
    )
    timezone = forms.ChoiceField(label=_("Time zone"), initial="Asia/Shanghai")
    description = forms.CharField(
        label=_("About the shop"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    avatar = forms.ImageField(label=_("Avatar"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = timezone_choices()

    def clean_slug(self) -> str:
        # The service's own check, here too so a bad address shows with the other fields' errors.
        try:
            return shop_slug_check(self.cleaned_data["slug"])
        except DomainError as err:
            raise forms.ValidationError(err.message, code=err.code) from None


class ProductForm(forms.Form):
    name = forms.CharField(label=_("Product name"), max_length=200)
    category = forms.ChoiceField(label=_("Category"), choices=Category.choices, initial=Category.BEAUTY)
    price = forms.DecimalField(label=_("Price (¥)"), max_digits=12, decimal_places=2, min_value=0.01)
    brand = forms.CharField(label=_("Brand"), max_length=100, required=False)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    image = forms.FileField(
        label=_("Picture"), required=False, widget=forms.ClearableFileInput(attrs={"accept": "image/*"})
    )


class PickForm(forms.Form):
    """选品: a catalogue product at the shop's retail price."""

    factory_product = forms.IntegerField(widget=forms.HiddenInput)
    price = forms.DecimalField(
        label=_("Your retail price (¥)"), max_digits=12, decimal_places=2, min_value=0.01
    )
