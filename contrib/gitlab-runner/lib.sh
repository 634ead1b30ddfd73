# contrib/gitlab-runner/lib.sh: shared by config, prepare, run and cleanup,
# the four stages of GitLab Runner's custom executor (README.md here). One
# CI job is one wsbox attempt; the attempt id lives in a state directory of
# the job between the stages, which GitLab runs as separate processes.
#
# Set by the runner's administrator (the runner's own environment, never
# the job's):
#   WSBOX              the wsbox binary (default: wsbox on PATH)
#   WSBOX_STORE        the store (default: wsbox's)
#   WSBOX_GITLAB_OPTS  more `wsbox attempt begin` options (--rootfs NAME,
#                      --net host for get_sources, --memory ...)
#   WSBOX_GITLAB_SHELL the shell inside that runs the job's scripts (default
#                      sh: the runner's `shell = "sh"`; bash for "bash")
#   WSBOX_GITLAB_STATE where the per-job state lives
#                      (default: ${TMPDIR:-/tmp}/wsbox-gitlab-$(id -u))
# From the job (GitLab passes job variables as CUSTOM_ENV_<NAME>):
#   CI_PIPELINE_ID     the wsbox run
#   CI_JOB_NAME        the task (sanitized to a wsbox name)
#   CI_JOB_ID          names the job's state directory
#   WSBOX_PARENTS      space-separated jobs of the same pipeline whose
#                      workspaces this job starts from (--parent)

WSBOX=${WSBOX:-wsbox}
: "${BUILD_FAILURE_EXIT_CODE:=1}" "${SYSTEM_FAILURE_EXIT_CODE:=2}"

# A failure of the driver or of wsbox itself: the runner marks the job as a
# system failure.
die() {
	echo "wsbox-gitlab: $*" >&2
	exit "$SYSTEM_FAILURE_EXIT_CODE"
}

# A job name as a wsbox task name: [A-Za-z0-9][A-Za-z0-9._-]{0,127}.
task_name() {
	printf '%s' "$1" | tr -c 'A-Za-z0-9._-' '-' | sed 's/^[^A-Za-z0-9]/j/' | cut -c1-128
}

job_state_dir() {
	[ -n "${CUSTOM_ENV_CI_JOB_ID:-}" ] || die "CUSTOM_ENV_CI_JOB_ID is not set"
	case $CUSTOM_ENV_CI_JOB_ID in *[!0-9]*) die "CUSTOM_ENV_CI_JOB_ID: not a number" ;; esac
	echo "${WSBOX_GITLAB_STATE:-${TMPDIR:-/tmp}/wsbox-gitlab-$(id -u)}/$CUSTOM_ENV_CI_JOB_ID"
}

store_opt() {
	[ -z "${WSBOX_STORE:-}" ] || printf -- '--store %s' "$WSBOX_STORE"
}
