// The signed-in user, their projects and the project the pages act in (remembered in
// localStorage), shared by every page.
import { ApiError, api, setRequestContext } from './api.ts';
import type { Me, ProjectMembership, Role } from './types.ts';

const PROJECT_KEY = 'meshhook-project';

/** Where the session stands; `error` means the server could not say. */
export type SessionStatus = 'loading' | 'signed_out' | 'signed_in' | 'error';

/** The session state pages read; change it through the functions below. */
export const session = $state<{
  status: SessionStatus;
  me: Me | undefined;
  projectId: string | undefined;
  error: unknown;
}>({ status: 'loading', me: undefined, projectId: undefined, error: undefined });

/** The project the pages act in, with the user's role there. */
export function currentProject(): ProjectMembership | undefined {
  return session.me?.projects.find((p) => p.id === session.projectId);
}

const RANK: Record<Role, number> = { viewer: 1, member: 2, admin: 3, owner: 4 };

/** Whether the user's role in the current project is at least `min`. */
export function hasRole(min: Role): boolean {
  const role = currentProject()?.role;
  return role !== undefined && RANK[role] >= RANK[min];
}

function storedProject(): string | undefined {
  try {
    return localStorage.getItem(PROJECT_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

/** Makes a project the current one and remembers it for the next visit. */
export function chooseProject(projectId: string): void {
  session.projectId = projectId;
  setRequestContext({ projectId });
  try {
    localStorage.setItem(PROJECT_KEY, projectId);
  } catch {
    // private mode: the choice lasts for this page only
  }
}

/** Reads the session from the server; `prefer` picks the project to show (a new one, say). */
export async function loadSession(prefer?: string): Promise<void> {
  try {
    const me = await api<Me>('/api/auth/me', { noProject: true });
    session.me = me;
    session.error = undefined;
    setRequestContext({ csrfToken: me.csrf_token });
    const wanted = [prefer, session.projectId, storedProject()].find(
      (id) => id && me.projects.some((p) => p.id === id),
    );
    const projectId = wanted ?? me.projects[0]?.id;
    if (projectId) chooseProject(projectId);
    else session.projectId = undefined;
    session.status = 'signed_in';
  } catch (error) {
    session.me = undefined;
    setRequestContext({ csrfToken: undefined });
    if (error instanceof ApiError && error.status === 401) {
      session.status = 'signed_out';
    } else {
      session.status = 'error';
      session.error = error;
    }
  }
}

/** Ends the session on the server and here. */
export async function signOut(): Promise<void> {
  try {
    await api('/api/auth/logout', { method: 'POST', noProject: true });
  } finally {
    session.me = undefined;
    session.status = 'signed_out';
    setRequestContext({ csrfToken: undefined });
  }
}
