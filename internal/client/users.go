package client

import (
	"context"
	"net/url"
	"strconv"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
)

// Users lists users.
func (c *Client) Users(ctx context.Context) ([]patchbay.User, error) {
	var l apiv1.List[patchbay.User]
	return l.Items, c.do(ctx, "GET", "/api/v1/users", nil, nil, &l)
}

// User shows one user.
func (c *Client) User(ctx context.Context, name string) (patchbay.User, error) {
	var u patchbay.User
	return u, c.do(ctx, "GET", "/api/v1/users/"+url.PathEscape(name), nil, nil, &u)
}

// CreateUser adds a user.
func (c *Client) CreateUser(ctx context.Context, req apiv1.CreateUserRequest) (patchbay.User, error) {
	var u patchbay.User
	return u, c.do(ctx, "POST", "/api/v1/users", nil, req, &u)
}

// UpdateUser changes a user's role or disabled state.
func (c *Client) UpdateUser(ctx context.Context, name string, req apiv1.UpdateUserRequest) (patchbay.User, error) {
	var u patchbay.User
	return u, c.do(ctx, "PATCH", "/api/v1/users/"+url.PathEscape(name), nil, req, &u)
}

// Tokens lists the caller's tokens, or every user's with all.
func (c *Client) Tokens(ctx context.Context, all bool) ([]patchbay.Token, error) {
	var l apiv1.List[patchbay.Token]
	q := url.Values{}
	if all {
		q.Set("all", "true")
	}
	return l.Items, c.do(ctx, "GET", "/api/v1/tokens", q, nil, &l)
}

// CreateToken makes a token; its secret is in the answer only.
func (c *Client) CreateToken(ctx context.Context, req apiv1.CreateTokenRequest) (apiv1.CreatedToken, error) {
	var t apiv1.CreatedToken
	return t, c.do(ctx, "POST", "/api/v1/tokens", nil, req, &t)
}

// RevokeToken revokes a token.
func (c *Client) RevokeToken(ctx context.Context, id int64) (patchbay.Token, error) {
	var t patchbay.Token
	return t, c.do(ctx, "DELETE", "/api/v1/tokens/"+strconv.FormatInt(id, 10), nil, nil, &t)
}
