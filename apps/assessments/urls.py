from django.urls import path

from apps.assessments import views

app_name = "assessments"

# Stable URLs: the load bench (bench/) drives answer, submit, start, dashboard and results.
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("<int:assessment_id>/start/", views.start, name="start"),
    path("<int:assessment_id>/preview/", views.preview, name="preview"),
    path("attempts/<int:attempt_id>/", views.take, name="take"),
    path(
        "attempts/<int:attempt_id>/questions/<int:question_id>/answer/",
        views.answer,
        name="answer",
    ),
    path("attempts/<int:attempt_id>/time/", views.time_left, name="time"),
    path("attempts/<int:attempt_id>/review/", views.review, name="review"),
    path("attempts/<int:attempt_id>/submit/", views.submit, name="submit"),
    path("attempts/<int:attempt_id>/result/", views.result, name="result"),
    path("attempts/<int:attempt_id>/receipt/", views.receipt, name="receipt"),
    path("results/", views.results_index, name="results"),
    path("results/<int:assessment_id>/", views.results_detail, name="results-detail"),
]
