"""The engine as a child process: the event protocol, the child's loop, the parent's client, the managed environment.

Everything here except ``child`` is torch-free: the parent (QGIS, a script)
imports it without loading the network.
"""
