from django.urls import path

app_name = "atlassian"
urlpatterns: list = []
