// Types of bin/electron-sandbox.js, for the tests.

/** 1 when AppArmor restricts unprivileged user namespaces (Ubuntu 24.04 and later). */
export const USERNS_RESTRICT_FILE: string;
/** Where AppArmor profiles live. */
export const APPARMOR_DIR: string;
/** The profile's name, and its file's name in APPARMOR_DIR. */
export const PROFILE_NAME: string;
/** The AppArmor profile that lets `binary` create user namespaces, as the deb's profile does. */
export function appArmorProfile(binary: string): string;
/** Why Chromium's sandbox cannot start for `binary` on this machine, or null when it can. */
export function sandboxProblem(binary: string, where?: { platform: string; restrictFile: string; apparmorDir: string }): string | null;
