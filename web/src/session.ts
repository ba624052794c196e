import { reactive } from 'vue';
import { api, call, tokenStore, type User } from './api/client';

/** The logged-in user as GET /api/auth/me describes them; null before login. */
export const session = reactive<{ user: User | null; loaded: boolean }>({ user: null, loaded: false });

export async function login(username: string, password: string): Promise<User> {
  const result = await call(api.POST('/api/auth/login', { body: { username, password } }));
  tokenStore.set(result.token);
  session.user = result.user;
  session.loaded = true;
  return result.user;
}

/** Reads the user behind the stored token once per page load (a reload keeps the tab logged in). */
export async function loadSession(): Promise<User | null> {
  if (session.loaded) return session.user;
  session.loaded = true;
  if (!tokenStore.get()) return null;
  try {
    session.user = await call(api.GET('/api/auth/me'));
  } catch {
    tokenStore.clear();
    session.user = null;
  }
  return session.user;
}

export async function logout(): Promise<void> {
  try {
    await call(api.POST('/api/auth/logout', {}));
  } catch {
    // The token is dropped here anyway; an expired one needs no logout.
  }
  forget();
}

export function forget() {
  tokenStore.clear();
  session.user = null;
}
