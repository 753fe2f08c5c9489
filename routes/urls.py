"""URLs of routes, live tracking and chat."""

from django.urls import path

from . import chat_views, tracking_views, views

app_name = "routes"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.create, name="create"),
    path("split/", views.split, name="split"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/sheet/", views.sheet, name="sheet"),
    path("<int:pk>/reorder/", views.reorder, name="reorder"),
    path("<int:pk>/optimize/", views.optimize, name="optimize"),
    path("<int:pk>/plan/", views.update_plan, name="update_plan"),
    path("<int:pk>/cancel/", views.cancel, name="cancel"),
    path("<int:pk>/stops/<int:stop_pk>/remove/", views.remove_stop, name="remove_stop"),
    path("<int:pk>/stops/<int:stop_pk>/status/", views.stop_status, name="stop_status"),
    path("jobs/<int:pk>/", views.job, name="job"),
    path("tracking/", tracking_views.index, name="tracking"),
    path("tracking/data/", tracking_views.data, name="tracking_data"),
    path("chat/", chat_views.index, name="chat"),
    path("chat/<int:pk>/", chat_views.conversation, name="chat_conversation"),
    path("chat/<int:pk>/messages/", chat_views.conversation_messages, name="chat_messages"),
    path("chat/<int:pk>/close/", chat_views.close, name="chat_close"),
]
