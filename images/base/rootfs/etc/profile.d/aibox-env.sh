# Environment of the aibox sandbox. Sourced last by login shells so aibox's
# PATH entries win over dotfiles; tool packs add theirs through /etc/aibox/env.sh.
export EDITOR="${EDITOR:-vi}"
export LANG="${LANG:-en_US.UTF-8}"
export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
case ":$PATH:" in *:/opt/aibox/bin:*) ;; *) PATH="/opt/aibox/bin:$PATH" ;; esac
export PATH
. /etc/aibox/env.sh
