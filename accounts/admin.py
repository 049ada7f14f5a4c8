from django.contrib import admin

from accounts.models import ApiToken, Profile


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "display_name", "affiliation", "email_on_result", "email_verified_at"]
    list_filter = ["email_on_result", "awaiting_email_verification"]
    search_fields = ["user__username", "user__email", "display_name", "affiliation"]
    raw_id_fields = ["user"]
    readonly_fields = ["email_verified_at"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Read-only, but for revoking (deleting). Tokens are created by their owners (the API
    tokens page) or by `manage.py create_api_token`, the only places a key can be shown; the
    digest is never shown."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at"]
    list_select_related = ["user"]
    search_fields = ["user__username", "name", "prefix"]
    fields = ["user", "name", "prefix", "created_at", "last_used_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
