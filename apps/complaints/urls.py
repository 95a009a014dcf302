from django.urls import path

from apps.complaints import views

app_name = "complaints"
urlpatterns = [
    path("", views.file_complaint, name="file"),
    path("validate/", views.validate_field, name="validate"),
    path("status/", views.complaint_status, name="status"),
    path("status/follow-up/", views.follow_up, name="follow-up"),
    path("receipt/", views.receipt_download, name="receipt"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("attachments/<int:pk>/", views.attachment_download, name="attachment-download"),
]
