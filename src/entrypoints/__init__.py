"""The composition root: settings, the dependency-injector container, the HTTP app, the worker
and the command line. The only layer that knows every other."""
