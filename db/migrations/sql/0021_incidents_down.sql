-- onemap 0021 down: incidents and dispatch.
DROP TABLE IF EXISTS cap_alerts, incident_events, dispatches, incidents, minimum_needs,
    incident_kinds CASCADE;
DROP FUNCTION IF EXISTS onemap_incident_notify();
