/**
 * Every GraphQL document the project sends to Tray, as named operations, so the tests can validate
 * each one against schema.graphql and the emulator's request log names what ran.
 */

export const FIND_USER = /* GraphQL */ `
  query FindUser($externalUserId: String!, $after: String) {
    users(criteria: { externalUserId: $externalUserId }, after: $after) {
      edges {
        node {
          id
          externalUserId
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`;

/** A user by Tray's id: whether Tray still knows the user a token was refused for. */
export const FIND_USER_BY_ID = /* GraphQL */ `
  query FindUserById($userId: String!) {
    users(criteria: { userId: $userId }) {
      edges {
        node {
          id
        }
      }
    }
  }
`;

export const CREATE_USER = /* GraphQL */ `
  mutation CreateUser($externalUserId: String!, $name: String!) {
    createExternalUser(input: { externalUserId: $externalUserId, name: $name }) {
      userId
    }
  }
`;

export const AUTHORIZE_USER = /* GraphQL */ `
  mutation AuthorizeUser($userId: ID!) {
    authorize(input: { userId: $userId }) {
      accessToken
    }
  }
`;

export const CREATE_INSTANCE = /* GraphQL */ `
  mutation CreateInstance($solutionId: ID!, $instanceName: String!, $configValues: [ConfigValue!]) {
    createSolutionInstance(
      input: { solutionId: $solutionId, instanceName: $instanceName, configValues: $configValues }
    ) {
      solutionInstance {
        id
        created
      }
    }
  }
`;

export const FIND_INSTANCES = /* GraphQL */ `
  query FindInstances($owner: String!, $solutionId: String!, $name: String!, $after: String) {
    viewer {
      solutionInstances(criteria: { owner: $owner, solutionId: $solutionId, name: $name }, after: $after) {
        edges {
          node {
            id
            name
            owner
            created
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  }
`;

/** Whether one instance still exists for the viewer: asked after a removal Tray refused. */
export const FIND_INSTANCE = /* GraphQL */ `
  query FindInstance($id: String!) {
    viewer {
      solutionInstances(criteria: { id: $id }) {
        edges {
          node {
            id
          }
        }
      }
    }
  }
`;

// The field takes no paging arguments, but answers pageInfo: a cut-off list is noticed.
export const LIST_AUTHENTICATIONS = /* GraphQL */ `
  query ListAuthentications {
    viewer {
      authentications {
        edges {
          node {
            id
          }
        }
        pageInfo {
          hasNextPage
        }
      }
    }
  }
`;

/** An instance's enabled flag and auths: whether a refused attach or enable had been done before. */
export const FIND_INSTANCE_STATE = /* GraphQL */ `
  query FindInstanceState($id: String!) {
    viewer {
      solutionInstances(criteria: { id: $id }) {
        edges {
          node {
            id
            enabled
            authValues {
              externalId
              authId
            }
          }
        }
      }
    }
  }
`;

export const ATTACH_AUTHS = /* GraphQL */ `
  mutation AttachAuths($solutionInstanceId: ID!, $authValues: [AuthValue!]!) {
    updateSolutionInstance(input: { solutionInstanceId: $solutionInstanceId, authValues: $authValues }) {
      solutionInstance {
        id
      }
    }
  }
`;

export const ENABLE_INSTANCE = /* GraphQL */ `
  mutation EnableInstance($solutionInstanceId: ID!) {
    updateSolutionInstance(
      input: {
        solutionInstanceId: $solutionInstanceId
        enabled: true
        errorOnEnablingWithMissingValues: true
      }
    ) {
      solutionInstance {
        id
        enabled
      }
    }
  }
`;

export const REMOVE_INSTANCE = /* GraphQL */ `
  mutation RemoveInstance($solutionInstanceId: ID!) {
    removeSolutionInstance(input: { solutionInstanceId: $solutionInstanceId }) {
      clientMutationId
    }
  }
`;

/** Alias of the i-th code in `issueCodesDocument`'s answer. */
export function codeAlias(index: number): string {
  return `c${index}`;
}

/**
 * One request that mints `count` one-time authorization codes for the same user, as aliased
 * `generateAuthorizationCode` mutations (`c0` … `c{count-1}`), so a saga spends one request on all
 * its slots instead of one per slot.
 */
export function issueCodesDocument(count: number): string {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`count must be a positive integer`);
  const fields = Array.from(
    { length: count },
    (_, i) =>
      `  ${codeAlias(i)}: generateAuthorizationCode(input: { userId: $userId }) { authorizationCode }`,
  );
  return `mutation IssueAuthorizationCodes($userId: ID!) {\n${fields.join('\n')}\n}\n`;
}

/** The fixed documents by operation name (the tests validate each one against the schema). */
export const DOCUMENTS = {
  FindUser: FIND_USER,
  FindUserById: FIND_USER_BY_ID,
  CreateUser: CREATE_USER,
  AuthorizeUser: AUTHORIZE_USER,
  CreateInstance: CREATE_INSTANCE,
  FindInstances: FIND_INSTANCES,
  FindInstance: FIND_INSTANCE,
  FindInstanceState: FIND_INSTANCE_STATE,
  ListAuthentications: LIST_AUTHENTICATIONS,
  AttachAuths: ATTACH_AUTHS,
  EnableInstance: ENABLE_INSTANCE,
  RemoveInstance: REMOVE_INSTANCE,
} as const;
