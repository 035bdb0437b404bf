"""A cluster executor that submits nothing: it fails each job with the threads and resources a SLURM job would get.

tests/test_workflow.py reads them (a dry run plans with Snakemake's own dry-run executor, not this one).
"""

from snakemake_interface_executor_plugins.executors.remote import RemoteExecutor
from snakemake_interface_executor_plugins.settings import CommonSettings

common_settings = CommonSettings(non_local_exec=True, implies_no_shared_fs=False, job_deploy_sources=False)


class Executor(RemoteExecutor):
    def __post_init__(self):
        pass

    def run_job(self, job_info):
        raise RuntimeError(f"stub: {job_info.rule.name} threads={job_info.threads} gpu={job_info.resources.get('gpu')}")

    async def check_active_jobs(self, active_jobs):
        for job in active_jobs:
            yield job

    def cancel_jobs(self, active_jobs):
        pass
