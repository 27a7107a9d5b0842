from django.urls import path

app_name = "microsoft"
urlpatterns: list = []
