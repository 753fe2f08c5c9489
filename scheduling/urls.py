"""URLs of delivery windows and schedules."""

app_name = "scheduling"
urlpatterns = []
