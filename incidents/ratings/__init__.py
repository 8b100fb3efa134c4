"""好差评: the reporter's rating of a closed report and what follows from it.

Modules: `scores` (the scale, what a rater gives, the rules), `access` (who stands where
to a report), `giving` (rating and re-rating), `work_orders` (the rectification a bad rating
opens, its revisit), `history`, `review` (flags a second manager decides, the rater's
appeal), `defaults` (the default rating after the rating period). Events and
notifications go through incidents.timeline.

Rules chosen here (the issue leaves them open):

- **Who rates**: the reporter's own account (a resident account that filed the report);
  anyone presenting the report's secret from submission; or staff who can see the report
  recording a rating given by phone or at a terminal (`channel`). Staff who filed a report
  for someone rate through the phone/terminal channel, never as "the reporter". The
  report's assignee and handler may not record a rating of their own work.
- **Staff may not pre-empt the reporter** (issue 15, item 4): a rating recorded by staff
  (phone/terminal) may not be recorded by the report's assignee, handler or anyone who
  closed it (verified the work), nor a re-rating by the work order's assignee or the one
  who recorded its revisit (revisit and re-rating by different people). The reporter's
  own rating stands: within the rating period it REPLACES a staff-recorded one (the row
  is updated in place; the timeline's 'rating' event keeps what was replaced and who
  recorded it). A work order the staff-recorded rating opened stays open; a bad rating
  of the reporter's opens one if there is none.
- **Once**: one handling rating per report and one re-rating per work order, held by the
  partial unique indexes (INSERT .. ON CONFLICT DO NOTHING: a second rating, even a
  concurrent one, is a 409, never a 500), except the reporter's replacing a staff-recorded
  one. A rating comes within `period_days` of closing (a re-rating within `period_days`
  of the revisit's staff-recorded re-rating, to be replaced); after that the default
  rating stands.
- **Work order**: an overall 1 or 2 (not a default rating, which is nobody's opinion)
  opens one, assigned up the handler's chain: the nearest level above the handler's role
  that has an active manager on the report's region chain (worker -> community manager,
  community manager -> street manager, street -> district, district -> an admin); within
  a level the longest-standing account (lowest id). Due in working days.
- **Re-rating**: after the revisit is recorded; it closes the work order. A bad re-rating
  opens no further order: it is recorded and counted.
- **Review**: a flag needs a second manager to confirm (403 for the flagger); confirmed,
  the rating is `excluded` from statistics and stays in the history. The rater may appeal
  once per exclusion; a manager who took part in excluding it may not decide the appeal.
"""
