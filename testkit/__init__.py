"""What tests and benchmarks share, outside the shipped ``syncd`` package.

- ``testkit.harness``: three real Docker engines (unix, tcp+TLS, ssh) started in a directory;
- ``testkit.services``, ``testkit.service_yaml``, ``testkit.repo``: the test service (a busybox
  shell that becomes ready, never does, or crashes) and repositories of it on disk;
- ``testkit.sampler``: lists the engines every 100 ms while a rollout runs;
- ``testkit.daemon_process``: ``syncd daemon`` as a child process logging to a file;
- ``testkit.simulated``: the observed state a plan would leave, without running it;
- ``testkit.memory_driver``: an in-memory NodeDriver and pool with fault injection and a
  record of every state change, for exhaustive rollout tests without engines;
- ``testkit.bench``: the pieces the bench scripts share (harness lifetime, git, RSS).

The repository root is on ``sys.path`` for pytest (run from the root) and for every bench script
(each inserts it), so ``import testkit`` works in both without installing anything.
"""
