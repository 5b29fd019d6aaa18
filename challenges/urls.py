from django.urls import path

from challenges import views

app_name = "challenges"

urlpatterns = [
    path("", views.challenge_list, name="list"),
    path("mine/", views.dashboard, name="mine"),
    path("new/<uuid:need_uuid>/", views.challenge_create, name="create"),
    path("invite-from-match/<int:match_id>/", views.invite_from_match, name="invite-from-match"),
    path("<uuid:uuid>/", views.challenge_detail, name="detail"),
    path("<uuid:uuid>/edit/", views.challenge_edit, name="edit"),
    path("<uuid:uuid>/quality/", views.challenge_quality_check, name="quality"),
    path("<uuid:uuid>/publish/", views.challenge_publish, name="publish"),
    path("<uuid:uuid>/cancel/", views.challenge_cancel, name="cancel"),
    path("<uuid:uuid>/start/", views.challenge_start, name="start"),
    path("<uuid:uuid>/invite/", views.challenge_invite, name="invite"),
    path("<uuid:uuid>/invitation/answer/", views.invitation_answer, name="invitation-answer"),
    path("<uuid:uuid>/bids/", views.bids_received, name="bids"),
    path("<uuid:uuid>/bids/export.csv", views.bids_export, name="bids-export"),
    path("<uuid:uuid>/review/", views.review_manage, name="review-manage"),
    path(
        "<uuid:uuid>/review/<uuid:assignment_uuid>/recuse/",
        views.review_recuse,
        name="review-recuse",
    ),
    path("<uuid:uuid>/award/", views.challenge_award, name="award"),
    path("<uuid:uuid>/execution/", views.execution, name="execution"),
    path("<uuid:uuid>/downselect/", views.challenge_downselect, name="downselect"),
    path("<uuid:uuid>/my-bid/", views.bid_edit, name="bid-edit"),
    path("bids/<uuid:uuid>/", views.bid_detail, name="bid-detail"),
    path("bids/<uuid:uuid>/submit/", views.bid_submit, name="bid-submit"),
    path("bids/<uuid:uuid>/withdraw/", views.bid_withdraw, name="bid-withdraw"),
    path("bids/<uuid:uuid>/decline/", views.bid_decline, name="bid-decline"),
    path("bids/<uuid:uuid>/attachments/", views.bid_attachment_add, name="bid-attachment-add"),
    path(
        "bids/<uuid:uuid>/attachments/<uuid:attachment_uuid>/",
        views.bid_attachment,
        name="bid-attachment",
    ),
    path("consortium/<int:pk>/confirm/", views.consortium_confirm, name="consortium-confirm"),
    path("reviews/<uuid:uuid>/", views.review, name="review"),
    path(
        "contracts/<uuid:uuid>/draft.docx",
        views.contract_file,
        {"fmt": "docx"},
        name="contract-docx",
    ),
    path(
        "contracts/<uuid:uuid>/draft.pdf", views.contract_file, {"fmt": "pdf"}, name="contract-pdf"
    ),
    path(
        "contracts/<uuid:uuid>/registration.xlsx",
        views.contract_file,
        {"fmt": "xlsx"},
        name="contract-registration",
    ),
    path("milestones/<uuid:uuid>/submit/", views.milestone_submit, name="milestone-submit"),
    path("milestones/<uuid:uuid>/decide/", views.milestone_decide, name="milestone-decide"),
]
