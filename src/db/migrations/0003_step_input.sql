-- What each step was given: its config with every template rendered (the request an http_call
-- sent, the message a log node wrote), redacted like log lines. Shown on the run page.
alter table run_steps add column input jsonb;
