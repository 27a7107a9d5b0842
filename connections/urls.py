from django.urls import path

app_name = "connections"
urlpatterns: list = []
