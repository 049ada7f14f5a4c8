from django.urls import path

from accounts import views

# Beside django.contrib.auth.urls under accounts/ (config/urls.py). No namespace: the throttles
# (config/throttling.py) and the templates know `signup` by its plain name.
urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("signup/done/", views.signup_done, name="signup_done"),
    path("verify/resend/", views.verification_resend, name="verification_resend"),
    path("verify/<uidb64>/<token>/", views.email_verify, name="email_verify"),
    path("profile/", views.profile, name="profile"),
    path("tokens/", views.api_tokens, name="api_tokens"),
    path("tokens/<int:token_id>/revoke/", views.api_token_revoke, name="api_token_revoke"),
]
