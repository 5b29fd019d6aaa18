from django.urls import path

from challenges.api import views

urlpatterns = [
    path("challenges/", views.ChallengeListApi.as_view(), name="challenge-list"),
    path("challenges/mine/", views.MyChallengesApi.as_view(), name="challenge-mine"),
    path("challenges/<uuid:uuid>/", views.ChallengeDetailApi.as_view(), name="challenge-detail"),
    path(
        "challenges/<uuid:uuid>/publish/",
        views.ChallengePublishApi.as_view(),
        name="challenge-publish",
    ),
    path(
        "challenges/<uuid:uuid>/close-bidding/",
        views.ChallengeCloseBiddingApi.as_view(),
        name="challenge-close-bidding",
    ),
    path(
        "challenges/<uuid:uuid>/cancel/",
        views.ChallengeCancelApi.as_view(),
        name="challenge-cancel",
    ),
    path(
        "challenges/<uuid:uuid>/award/", views.ChallengeAwardApi.as_view(), name="challenge-award"
    ),
    path(
        "challenges/<uuid:uuid>/start/", views.ChallengeStartApi.as_view(), name="challenge-start"
    ),
    path(
        "challenges/<uuid:uuid>/downselect/",
        views.ChallengeDownselectApi.as_view(),
        name="challenge-downselect",
    ),
    path("challenges/<uuid:uuid>/bids/", views.ChallengeBidsApi.as_view(), name="challenge-bids"),
    path(
        "challenges/<uuid:uuid>/invitations/",
        views.ChallengeInvitationsApi.as_view(),
        name="challenge-invitations",
    ),
    path(
        "challenges/<uuid:uuid>/invitation/",
        views.ChallengeMyInvitationApi.as_view(),
        name="challenge-my-invitation",
    ),
    path(
        "challenges/<uuid:uuid>/experts/",
        views.ChallengeExpertsApi.as_view(),
        name="challenge-experts",
    ),
    path(
        "challenges/<uuid:uuid>/experts/<uuid:assignment_uuid>/recuse/",
        views.ChallengeExpertRecuseApi.as_view(),
        name="challenge-expert-recuse",
    ),
    path(
        "challenges/<uuid:uuid>/ranking/",
        views.ChallengeRankingApi.as_view(),
        name="challenge-ranking",
    ),
    path(
        "challenges/<uuid:uuid>/contracts/",
        views.ChallengeContractsApi.as_view(),
        name="challenge-contracts",
    ),
    path("contracts/<uuid:uuid>/draft.docx", views.ContractDocxApi.as_view(), name="contract-docx"),
    path("contracts/<uuid:uuid>/draft.pdf", views.ContractPdfApi.as_view(), name="contract-pdf"),
    path(
        "contracts/<uuid:uuid>/registration.xlsx",
        views.ContractRegistrationApi.as_view(),
        name="contract-registration",
    ),
    path("bids/", views.BidListApi.as_view(), name="bid-list"),
    path("bids/<uuid:uuid>/", views.BidDetailApi.as_view(), name="bid-detail"),
    path("bids/<uuid:uuid>/submit/", views.BidSubmitApi.as_view(), name="bid-submit"),
    path("bids/<uuid:uuid>/withdraw/", views.BidWithdrawApi.as_view(), name="bid-withdraw"),
    path("bids/<uuid:uuid>/confirm/", views.BidConfirmApi.as_view(), name="bid-confirm"),
    path("bids/<uuid:uuid>/decline/", views.BidDeclineApi.as_view(), name="bid-decline"),
    path("reviews/", views.ReviewListApi.as_view(), name="review-list"),
    path("reviews/<uuid:uuid>/scores/", views.ReviewScoresApi.as_view(), name="review-scores"),
    path("reviews/<uuid:uuid>/submit/", views.ReviewSubmitApi.as_view(), name="review-submit"),
    path(
        "milestones/<uuid:uuid>/submit/",
        views.MilestoneSubmitApi.as_view(),
        name="milestone-submit",
    ),
    path(
        "milestones/<uuid:uuid>/accept/",
        views.MilestoneAcceptApi.as_view(),
        name="milestone-accept",
    ),
    path(
        "milestones/<uuid:uuid>/reject/",
        views.MilestoneRejectApi.as_view(),
        name="milestone-reject",
    ),
]
