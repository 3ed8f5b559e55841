"""Result tables, figures and the dashboard, built from run directories."""
