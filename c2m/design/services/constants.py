"""Constants the design-round services share."""

import datetime as dt

PURPOSE = "design_vote"
CONFIRM_WINDOW = dt.timedelta(hours=48)
# Votes whose charge is still unanswered this long after the deadline no longer hold the count back.
PENDING_GRACE = dt.timedelta(minutes=10)
MIN_CAMPAIGN_DAYS, MAX_CAMPAIGN_DAYS = 3, 60
BALANCE_AFTER = dt.timedelta(days=3)
COMMENT_MAX = 500
