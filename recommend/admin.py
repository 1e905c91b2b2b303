from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from core.errors import Conflict
from recommend import services
from recommend.models import Interaction, ModelVersion, ProductTag


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = [
        "version",
        "status",
        "is_serving",
        "progress",
        "stage",
        "n_interactions",
        "fit_seconds",
        "created_at",
    ]
    list_filter = ["status", "is_serving"]
    readonly_fields = [f.name for f in ModelVersion._meta.fields]
    actions = ["train_now"]

    @admin.action(description=_("Train now (one model for all shops)"))
    def train_now(self, request: HttpRequest, queryset) -> None:  # noqa: ANN001
        try:
            version = services.model_train_request(user=request.user)
        except Conflict as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        self.message_user(request, _("Training started: %(v)s") % {"v": version.version}, messages.SUCCESS)

    def changelist_view(self, request: HttpRequest, extra_context=None):  # noqa: ANN001
        # The action needs no selection: allow running it with nothing ticked.
        if request.POST.get("action") == "train_now" and not request.POST.getlist(
            admin.helpers.ACTION_CHECKBOX_NAME
        ):
            post = request.POST.copy()
            post.setlist(
                admin.helpers.ACTION_CHECKBOX_NAME,
                list(ModelVersion.objects.values_list("pk", flat=True)[:1]) or ["0"],
            )
            request.POST = post
        return super().changelist_view(request, extra_context)


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = ["fan", "product", "kind", "weight", "created_at"]
    list_filter = ["kind"]
    raw_id_fields = ["shop", "fan", "product"]


@admin.register(ProductTag)
class ProductTagAdmin(admin.ModelAdmin):
    list_display = ["product", "tag", "source", "created_at"]
    raw_id_fields = ["product", "tag"]
