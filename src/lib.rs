//! kubectl-waves: Argo CD sync waves and hooks, run from kubectl.
