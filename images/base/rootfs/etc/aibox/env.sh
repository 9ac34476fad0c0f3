# The environment of aibox tool packs, for every shell: bash and sh read it
# through BASH_ENV/ENV (non-interactive, set by sshd), login shells through
# /etc/profile.d/aibox-env.sh, interactive bash through /etc/bash.bashrc and
# zsh through /etc/zsh/zshenv. Sourcing it twice changes nothing.
if [ -r /opt/toolpacks/.aibox/env.sh ]; then . /opt/toolpacks/.aibox/env.sh; fi
