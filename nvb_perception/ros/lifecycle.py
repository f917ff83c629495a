"""Managed (lifecycle) nodes: models are loaded on configure and freed on cleanup; work happens only while active.

By default (`autostart:=true`) a node configures and activates itself at start, like a plain node, and a model
that cannot load stops it with a one-line error naming the file. With `autostart:=false` it waits, unconfigured,
for a lifecycle manager:

    ros2 lifecycle set /pose_node configure     # load the models (a failure is logged; fix the file and retry)
    ros2 lifecycle set /pose_node activate      # process frames
    ros2 lifecycle set /pose_node deactivate    # ignore frames, keep the models (fast to re-activate)
    ros2 lifecycle set /pose_node cleanup       # free the models (GPU/CPU memory) until the next configure
"""
from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn

from nvb_perception.errors import PerceptionError
from nvb_perception.ros.node_utils import declare


class ManagedNode(LifecycleNode):
    """Base of the nodes that hold models; subclasses implement load_models() and free_models()."""

    def __init__(self, name: str, **node_options):
        super().__init__(name, **node_options)
        self.autostart_enabled = declare(self, 'autostart', True, 'Configure and activate at start (false: wait '
                                         'for a lifecycle manager)', read_only=True)
        self.active = False
        self.models_loaded = False
        self._autostarted = False

    def load_models(self) -> None:
        """Open the models (raise PerceptionError naming the file and the fix)."""
        raise NotImplementedError

    def free_models(self) -> None:
        """Release the models."""
        raise NotImplementedError

    def accepting(self) -> bool:
        """True while active; otherwise the input is counted as ignored (callers return at once)."""
        if not self.active:
            self.diagnostics.count('inputs_while_inactive')
        return self.active

    def preload(self) -> None:
        """With autostart, open the models now (subclasses call this before creating their subscriptions).

        The first messages, queued until spinning starts, are then processed instead of dropped as inactive; a
        bad model file stops the node here with its error.
        """
        if self.autostart_enabled:
            self._load()

    def autostart(self) -> None:
        """Called after construction: configure + activate unless autostart is false (later calls do nothing).

        The models are loaded outside the transition (preload, or here), so a bad model file stops the node with
        its error (a failing transition callback would only be logged). A node with nothing to load may call it at
        the end of its constructor, so it is ready as soon as it exists, as a plain node is.
        """
        if self._autostarted:
            return
        self._autostarted = True
        self._show_state('unconfigured')
        if self.autostart_enabled:
            self._load()
            self.trigger_configure()
            self.trigger_activate()

    def _load(self) -> None:
        if not self.models_loaded:
            self.load_models()
            self.models_loaded = True

    def _free(self) -> None:
        if self.models_loaded:
            self.models_loaded = False
            self.free_models()

    def _show_state(self, label: str) -> None:
        self.diagnostics.values['lifecycle'] = label

    def on_configure(self, state) -> TransitionCallbackReturn:
        try:
            self._load()
        except PerceptionError as error:
            self.get_logger().error(f'configure failed: {error}')
            self.diagnostics.warning = f'configure failed: {error}'
            return TransitionCallbackReturn.FAILURE
        self._show_state('inactive')
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state) -> TransitionCallbackReturn:
        self.active = True
        self._show_state('active')
        return super().on_activate(state)

    def on_deactivate(self, state) -> TransitionCallbackReturn:
        self.active = False
        self._show_state('inactive')
        return super().on_deactivate(state)

    def on_cleanup(self, state) -> TransitionCallbackReturn:
        self.active = False
        self._free()
        self._show_state('unconfigured')
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state) -> TransitionCallbackReturn:
        self.active = False
        self._free()
        self._show_state('finalized')
        return TransitionCallbackReturn.SUCCESS

    def close(self) -> None:
        """Free the models at exit (run() calls it)."""
        self.active = False
        self._free()
