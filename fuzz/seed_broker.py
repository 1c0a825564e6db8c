# A throwaway SoftHSM broker with its key, one consumer "ci" mapped to this account, and a
# brokerkey-agent serving it: what the seed writers (agent_seeds.py, agent_client_seeds.py) record
# real conversations against. Use it as a context manager (or start() with atexit's stop()), so
# the agent is stopped and the directory removed however the writer ends.
import os, shutil, subprocess, tempfile, time


class SeedBroker:
    def __init__(self, build, prefix, allow, home=False):
        self.build = os.path.abspath(build)
        self.tool = os.path.join(self.build, "bin", "brokerkey")
        self.work = tempfile.mkdtemp(prefix=prefix)
        self.env = dict(os.environ, BROKERKEY_CONF=os.path.join(self.work, "broker", "brokerkey.conf"))
        if home:
            self.env.update(HOME=os.path.join(self.work, "home"), GIT_CONFIG_NOSYSTEM="1")
            os.makedirs(self.env["HOME"])
        self.agent = None
        self.allow = allow

    def run(self, *args, **kw):
        """Runs a command in the broker's environment; its CompletedProcess (output captured)."""
        return subprocess.run(list(args), env=kw.pop("env", self.env), check=kw.pop("check", True),
                              capture_output=True, **kw)

    def start(self):
        """Creates the broker and starts its agent; returns self."""
        self.run(self.tool, "init", "--dir", os.path.join(self.work, "broker"), "--service", "acme",
                 "--purpose", "git-signing", "--env", "test")
        self.run(self.tool, "mint")
        added = self.run(self.tool, "consumer", "add", "ci", "--uid", str(os.getuid()), "--allow", self.allow)
        self.pin = [w for w in added.stdout.decode().split() if w.startswith("ci:")][0]
        os.makedirs(os.path.join(self.work, "run"), mode=0o700)
        self.agent_socket = os.path.join(self.work, "run", "agent.sock")
        with open(os.path.join(self.work, "agent.log"), "wb") as log:
            self.agent = subprocess.Popen([os.path.join(self.build, "bin", "brokerkey-agent"), "--socket",
                                           self.agent_socket], env=self.env, stderr=log)
        for _ in range(200):
            if os.path.exists(self.agent_socket):
                return self
            time.sleep(0.05)
        raise RuntimeError("brokerkey-agent did not create " + self.agent_socket)

    def stop(self):
        """Stops the agent (SIGTERM, then waits) and removes the broker's directory."""
        if self.agent:
            self.agent.terminate()
            self.agent.wait(timeout=30)
            self.agent = None
        shutil.rmtree(self.work, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
