"""Design rounds in the admin: the platform assigns a decided round's winners to a factory, choosing among
the category's candidates ranked by scorecard (preorders.scorecards), each with its reasons."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from c2m.design.models import DesignRound, DesignWinner, RoundStatus
from c2m.design.services import round_factory_assign
from core.errors import DomainError
from preorders.scorecards import ranked_factories, scorecard_reasons


class WinnerInline(admin.TabularInline):
    model = DesignWinner
    fields = ["combination_key", "votes", "variant", "campaign"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class DesignRoundForm(forms.ModelForm):
    class Meta:
        model = DesignRound
        fields = ["factory"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if "factory" in self.fields and self.instance.pk:
            ranked = ranked_factories(self.instance.product.category)
            self.fields["factory"].queryset = self.fields["factory"].queryset.filter(
                pk__in=[f.pk for f, _c in ranked]
            )
            # Best scorecard first (the select lists them in the ranking's order).
            order = {f.pk: i for i, (f, _c) in enumerate(ranked)}
            self.fields["factory"].choices = [("", "---------")] + sorted(
                ((f.pk, f"{f.name} · {c.score:.2f}" if c else f.name) for f, c in ranked),
                key=lambda pair: order[pair[0]],
            )

    def clean_factory(self) -> object:
        factory = self.cleaned_data.get("factory")
        if factory is not None and self.instance.status != RoundStatus.DECIDED:
            raise forms.ValidationError(_("Only a decided round goes to a factory."))
        return factory


@admin.register(DesignRound)
class DesignRoundAdmin(admin.ModelAdmin):
    form = DesignRoundForm
    list_display = ["title", "shop", "product", "status", "deadline", "factory"]
    list_filter = ["status"]
    search_fields = ["title", "shop__name", "product__name"]
    readonly_fields = [
        "shop",
        "product",
        "title",
        "attributes",
        "target_per_combination",
        "vote_deposit",
        "deadline",
        "status",
        "decided_at",
        "factory_assigned_at",
        "candidates",
    ]
    fields = [*readonly_fields[:-1], "candidates", "factory"]
    inlines = [WinnerInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # owners create rounds; the platform only assigns the factory

    @admin.display(description=_("Candidate factories (best scorecard first)"))
    def candidates(self, obj: DesignRound) -> str:
        ranked = ranked_factories(obj.product.category)[:10]
        if not ranked:
            return _("No factory in this category yet.")
        return format_html(
            "<ol id='design-candidates'>{}</ol>",
            format_html_join(
                "",
                "<li><strong>{}</strong> {} — {}</li>",
                (
                    (
                        f.name,
                        f"({c.score:.2f})" if c else "",
                        " · ".join(str(r) for r in scorecard_reasons(c)),
                    )
                    for f, c in ranked
                ),
            ),
        )

    def save_model(self, request: HttpRequest, obj: DesignRound, form: forms.ModelForm, change: bool) -> None:
        factory = form.cleaned_data.get("factory")
        if factory is None or not change:
            return
        try:
            round_factory_assign(round_id=obj.pk, factory_id=factory.pk)
        except DomainError as exc:
            messages.error(request, exc.message)
            return
        messages.success(
            request, _("The winners are on the factory's demand board, with the insight report.")
        )
