"""Every action_id costbot puts on a button, in one place (DESIGN.md: stable ids; handlers match on these)."""

ACTION_STOP = "costbot_stop"
ACTION_RESIZE = "costbot_resize"
ACTION_DELETE = "costbot_delete"  # storage nothing uses: Snapshot & delete (value: the resource key)
ACTION_REMIND = "costbot_remind_next_run"  # a spot recommendation for a past training run (value: resource key)
ACTION_DISMISS = "costbot_dismiss"
ACTION_SNOOZE = "costbot_snooze"
ACTION_NOT_MINE = "costbot_not_mine"
ACTION_APPROVE = "costbot_approve"
ACTION_REJECT = "costbot_reject"
ACTION_UNDO = "costbot_undo"
ACTION_SHARE = "costbot_share"
ACTION_CHART = "costbot_chart"
ACTION_HELP_ALL = "costbot_help_all"
ACTION_HOME_ASK = "costbot_home_ask"  # App Home's question buttons: costbot_home_ask_<n>
ACTION_SHOW_SHARED = "costbot_show_shared"
ACTION_SHOW_IDS = "costbot_show_ids"  # `by resource` answers: the full id behind each name
ACTION_ACKNOWLEDGE = "costbot_acknowledge"
ACTION_DETAILS = "costbot_details"
ACTION_PLAN_APPROVE = "costbot_plan_approve"  # a change's cost check: Approve (value: the approval id)
ACTION_PLAN_REJECT = "costbot_plan_reject"
ACTION_SCHEDULE_KEEP = "costbot_schedule_keep"  # a heads-up: Keep running tonight (value: the resource key)
ACTION_SCHEDULE_KEEP_ALL = "costbot_schedule_keep_all"  # value: the heads-up's id
ACTION_SCHEDULE_SKIP = "costbot_schedule_skip"  # Skip this week (value: the heads-up's id)
