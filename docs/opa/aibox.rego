# aibox's decisions (decide() in src/policy/query.ts) in Rego, over the data
# `aibox policy show --json` prints, published to OPA as data.aibox.
#
# input: {"kind": "egress", "host": "registry.example.com", "port": 443}
#      | {"kind": "git-push", "repo": "git.example.com/acme/app"}
#      | {"kind": "pack", "pack": "java@21"}
# "repo" must be canonical as aibox prints it (lowercase host/path: no scheme,
# user, port, ".git", "." or ".."); aibox itself blocks a remote it cannot read.
#
# glob.match gets the delimiters aibox's glob uses (src/policy/match.ts): hosts
# ["."], repositories ["/"], packs null (no delimiter; OPA reads [] as ["."]).
# Hosts and repositories are compared lowercase, as aibox does; packs exactly.
package aibox

default decision := {"allowed": false, "rule": "none"}

# network.egress: the first entry whose host pattern and ports allow host:port.
egress_matches contains i if {
	some i, rule in data.aibox.policy.egress.value
	glob.match(lower(rule.host), ["."], lower(input.host))
	input.port in rule.ports
}

decision := {"allowed": true, "rule": sprintf("network.egress[%d]", [min(egress_matches)])} if {
	input.kind == "egress"
	count(egress_matches) > 0
}

# packs.allowed: the first pattern that matches the pack.
pack_matches contains i if {
	some i, pattern in data.aibox.policy.allowedPacks.value
	glob.match(pattern, null, input.pack)
}

decision := {"allowed": true, "rule": sprintf("packs.allowed[%d]", [min(pack_matches)])} if {
	input.kind == "pack"
	count(pack_matches) > 0
}

# tools.git_push: each layer gives the class of its first matching rule, else its
# default; the strictest class any layer gives wins; none at all is safe.
risk_classes := ["safe", "review-required", "blocked"]

layer_class(layer) := layer.rules[min(matches)].class if {
	matches := {i | some i, rule in layer.rules; glob.match(lower(rule.repo), ["/"], lower(input.repo))}
	count(matches) > 0
} else := layer.default

git_push_classes contains name if {
	some layer in data.aibox.policy.gitPush
	name := layer_class(layer)
}

git_push_class := risk_classes[max({i | some i, name in risk_classes; name in git_push_classes})] if {
	count(git_push_classes) > 0
} else := "safe"

decision := {"allowed": true, "riskClass": git_push_class, "rule": "tools.git_push"} if {
	input.kind == "git-push"
	git_push_class != "blocked"
}

decision := {"allowed": false, "riskClass": "blocked", "rule": "tools.git_push"} if {
	input.kind == "git-push"
	git_push_class == "blocked"
}
