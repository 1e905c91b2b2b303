from django.apps import AppConfig


class ShopsConfig(AppConfig):
    name = "shops"
    verbose_name = "店铺 Shops"

    def ready(self) -> None:
        from shops.onboarding import onboarding_steps, product_step

        onboarding_steps.register("product", product_step)
