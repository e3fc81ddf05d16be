/** Access control: identities, roles, authentication, limits, the privacy rule (README "Security"). */
export { ANONYMOUS, internalIdentity, isPrivileged, type Identity } from './identity';
export { Allow, isRole, ROLES, type Role } from './roles';
export { AccessCode } from './errors';
export { assertAuthConfigured } from './configured';
export { developmentNotice, developmentToken, type DevelopmentToken } from './dev';
export { createApiKey, type CreatedApiKey } from './api-keys';
export { releaseAggregate, ruleText, type PrivacyRule } from './privacy';
