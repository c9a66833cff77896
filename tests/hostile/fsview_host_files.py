# expect: load=ok probe=ok
# calls: probe()
# check: escapes_failed
# needs: filesystem view
# Looks around the host's filesystem: home directories, /root, /run and /var/run (where the
# sockets of system daemons live), /var, /etc/shadow, /etc/hostname, the docker socket, /boot,
# /mnt, /srv, /opt, /sys. Nothing of it may be there.
import os

PLACES = ("/home", "/run", "/var/run", "/var", "/etc/shadow", "/etc/hostname", "/etc/hosts", "/boot", "/mnt",
          "/srv", "/opt", "/sys", "/var/run/docker.sock", "/run/systemd", "/lost+found", "/media")


def probe():
    found = [p for p in PLACES if os.path.lexists(p)]
    try:  # /root may only lead to the interpreter (a pyenv under it): never to anything else
        found += [f"/root/{n}" for n in os.listdir("/root") if n != ".pyenv"]
    except OSError:
        pass
    print("FOUND", found)
    return float(len(found))
