from django.urls import path

from . import views

app_name = "atlassian"

urlpatterns = [
    path("connect/atlassian/start/", views.connect, name="connect"),
    # Registered with Atlassian exactly as SITE_URL + this path.
    path("connect/atlassian/callback", views.callback, name="callback"),
    path("connect/atlassian/choose/", views.choose, name="choose"),
    path("connect/atlassian/api-token/", views.api_token_new, name="api_token_new"),
    path("sites/<int:site_id>/reauthorize/", views.reauthorize, name="reauthorize"),
    path("sites/<int:site_id>/api-token/", views.site_api_token, name="site_api_token"),
    path("sites/<int:site_id>/check/", views.check, name="check"),
]
