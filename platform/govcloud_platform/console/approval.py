"""An onboarding request's approval as a console job (docs/console.md, "Onboarding requests"): the operator's request
only claims it (pending -> approving, audited `request approve`) and starts the job, answering at once; the job, in
the runner's `box` lane, onboards the agency exactly as `agency add` does, waiting while another command holds the
box's lock as every job of that lane does (`jobs.Runner`), then approves the request, starts a deploy job per app it
asked for and mails its contact, once. If the onboarding fails, the job's hook puts the request back to pending
(audited `request approve` `failed, pending again`) before the job is recorded failed; what the failed `agency add`
made is the agency's `provisioning` record and bindings, which the next approval's `agency add` converges."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from govcloud_platform.console.data import Platform, agency_detail
from govcloud_platform.console.jobs import Runner, request_target
from govcloud_platform.progress import Progress
from govcloud_platform.state.jobs import Busy, Job
from govcloud_platform.state.onboarding_requests import OnboardingRequest

Deploy = Callable[[OnboardingRequest], list[int]]  # starts the request's apps' deploy jobs: their ids


def onboard_work(platform: Platform, public_url: str, req: OnboardingRequest, actor: str, deploy: Deploy
                 ) -> Callable[[Progress], Any]:
    def work(progress: Progress) -> Any:
        record = platform.onboard_approved(req, actor, progress)
        progress(f"{req.slug}: onboarded")
        started = deploy(req) if req.apps else []
        if started:
            progress(f"{req.slug}: deploy jobs {', '.join(str(j) for j in started)}")
        platform.mail_decision(req.id, f"{public_url}/{req.lang}/requests/{req.id}", actor)
        return {"request": req.id, "agency": agency_detail(record), "jobs": [f"/api/jobs/{j}" for j in started]}

    return work


def start(platform: Platform, runner: Runner, public_url: str, req: OnboardingRequest, actor: str, deploy: Deploy
          ) -> Job | None:
    """Claim the request and start its onboarding job: the job, or None when the request was decided or is being
    approved meanwhile (409). The job is recorded on the request (its page follows it)."""
    claimed = platform.claim_approval(req.id, actor)
    if claimed is None:
        return None

    def failed(error: str) -> None:  # before the job is recorded failed: its reader sees the request pending
        platform.reopen_approval(claimed.id, actor)

    try:
        job = runner.start("onboard", claimed.slug, request_target(claimed.id), actor,
                           onboard_work(platform, public_url, claimed, actor, deploy), failed=failed)
    except Busy:  # a job of the request's left running: cannot be, as it was pending; never leave it claimed
        platform.reopen_approval(claimed.id, actor)
        return None
    except Exception:
        platform.reopen_approval(claimed.id, actor)
        raise
    platform.set_approval_job(claimed.id, job.id)
    return job
