"""The air model: modelled PM2.5 from Open-Meteo (CAMS), the day's plan, the calendar file, donations."""
