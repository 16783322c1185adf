"""Case conferences (个案会商): scheduling, invitations, agenda, minutes, decisions that become tasks."""
