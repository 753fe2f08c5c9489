from django.urls import include, path

from . import views

app_name = "services"
urlpatterns = [
    path("", views.index, name="index"),
    path("export/", views.export, name="export"),
    path("new/", views.create, name="create"),
    path("bulk/", views.bulk, name="bulk"),
    path("customers/", views.customer_options, name="customer_options"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/status/", views.change_status, name="status"),
    path("<int:pk>/reschedule/", views.reschedule, name="reschedule"),
    path("import/", include("services.import_urls")),
]
