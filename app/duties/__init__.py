"""Recurring duties and "dynamic management": programme enrolment, one short process instance per cycle."""
