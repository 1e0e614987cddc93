"""Plugins that ship with the core and are registered like installed ones (see
:data:`rankfw.core.registry.BUILTIN_PLUGINS`): components that need nothing beyond rankfw itself."""
