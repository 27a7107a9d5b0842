from django.urls import path

from . import views

urlpatterns = [
    path("connections/<int:connection_id>/search/", views.search_page, name="search"),
    path("connections/<int:connection_id>/search/steps/<slug:step>/", views.search_step, name="search_step"),
    path("connections/<int:connection_id>/search/preview/", views.search_preview, name="search_preview"),
    path("connections/<int:connection_id>/search/identity-preview/", views.search_identity_preview,
         name="search_identity_preview"),
    path("connections/<int:connection_id>/search/publish/", views.search_publish, name="search_publish"),
    path("connections/<int:connection_id>/search/crawl/<slug:what>/", views.search_run, name="search_run"),
    path("connections/<int:connection_id>/search/disconnect/", views.search_disconnect, name="search_disconnect"),
]
