"""Notifications: commit statuses on the synced commit and alerts on state changes.

What Flux's notification-controller and Argo CD notifications give, for a daemon that has no
cluster to keep state in:

- ``changes``: pure; what changed between two passes' ``SyncStatus`` (alert events) and which
  commit status each context should now show.
- ``github``, ``gitlab``, ``gitea``: each provider's documented commit status API.
- ``webhook``, ``slack``: a generic JSON webhook and Slack-compatible incoming webhooks.
- ``queue``: the retry queue, a small bounded JSON file in the state directory, written
  atomically, so a receiver outage or a daemon restart loses nothing.
- ``notifier``: the thread that sends (a pass never waits on a receiver), rate-limited per
  receiver, retrying 5xx, 429 and network errors with backoff.
- ``settings``: the ``notifications`` block of the daemon's config.

``StatusWriter.write`` (``syncd/daemon/reporting.py``) hands each pass's status to the notifier.
"""
