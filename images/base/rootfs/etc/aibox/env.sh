# The environment of aibox tool packs. Non-interactive bash and sh read it
# through BASH_ENV/ENV (set by sshd: scripts get the packs without any startup
# file); every shell with startup files reads it through /etc/aibox/aibox-env.sh.
# Sourcing it twice changes nothing.
if [ -r /opt/toolpacks/.aibox/env.sh ]; then . /opt/toolpacks/.aibox/env.sh; fi
