"""The soak (`make soak`): the platform under a day's load and its faults, on loopback.

200 drivers send positions every 5 s and drive their routes, 100 customers poll their Last Mile
pages, for 5 minutes, against gunicorn, a Celery worker and beat in production settings on a
PostgreSQL and a Redis of the soak's own; meanwhile PostgreSQL restarts, the worker is killed in
the middle of sends, and Redis stops for a minute. Then it checks that nothing was lost or sent
twice and that requests failed only while PostgreSQL was restarting. See run.py for the schedule,
load.py for the load, providers.py for the fake Twilio and Postmark, report.py for the verdict.
"""
