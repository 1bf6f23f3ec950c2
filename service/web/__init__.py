"""The coordinators' web app at `/app/`: Swedish pages rendered on the server, usable without JavaScript."""
